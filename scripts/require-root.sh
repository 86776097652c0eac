#!/usr/bin/env bash
# Exits with a one-line error unless run as root (FUSE mounts and BPF need it).
if [ "$(id -u)" -ne 0 ]; then
  echo "$1: must run as root (mounts FUSE file systems and loads BPF programs); try: sudo $1" >&2
  exit 1
fi
