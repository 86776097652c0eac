#include "wire.h"

namespace finesse::wire {

const char *op_name(Op op) {
  switch (op) {
#define FINESSE_OP_NAME(n, Camel, lower, UPPER) \
  case Op::k##Camel:                            \
    return #lower;
    FINESSE_OPS(FINESSE_OP_NAME)
#undef FINESSE_OP_NAME
    case Op::kCount:
      break;
  }
  return "unknown";
}

}  // namespace finesse::wire
