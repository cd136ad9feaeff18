#!/usr/bin/env bash
# Start or stop a throw-away Orthanc PACS with its DICOMweb plugin, for the tests and benchmarks.
#   start:  scripts/orthanc.sh start [DIR]   -> prints the DICOMweb URL (http://127.0.0.1:PORT/dicom-web)
#   stop:   scripts/orthanc.sh stop [DIR]    -> stops that server and deletes DIR (its storage)
# DIR (default /tmp/readerstation-orthanc) holds the JSON configuration, the storage and index
# folders, the log and the pid; one DIR = one server, so parallel test workers use their own DIR.
# The server takes a free HTTP port, serves local connections only (RemoteAccessAllowed=false;
# Orthanc 1.10 has no bind-address option), has its DICOM (DIMSE) port disabled and no
# authentication. The Debian package's system service is never used. Orthanc's own in-memory
# storage cache is off (MaximumStorageCacheSize 0): with the default 128 MB a 158 MB series
# streamed 1.4x slower (the cache thrashes); the OS page cache serves the files either way.
# Exit codes: 0 ok; 3 Orthanc or its DICOMweb plugin is not installed (run scripts/system-deps.sh);
# 1 the server did not come up (the log is printed on stderr).
set -euo pipefail

cmd="${1:-start}"
DIR="${2:-${READERSTATION_ORTHANC_DIR:-/tmp/readerstation-orthanc}}"
PYTHON="${PYTHON:-python3}"

stop_server() {
  if [ -f "$DIR/orthanc.pid" ]; then
    pid="$(cat "$DIR/orthanc.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  # Only ever delete a folder this script made (it holds our marker file).
  if [ -f "$DIR/.readerstation-orthanc" ]; then
    rm -rf "$DIR"
  fi
}

if [ "$cmd" = "stop" ]; then
  stop_server
  exit 0
elif [ "$cmd" != "start" ]; then
  echo "usage: $0 start|stop [DIR]" >&2
  exit 64
fi

# READERSTATION_ORTHANC_BIN / READERSTATION_ORTHANC_PLUGIN override where they are looked for.
ORTHANC="${READERSTATION_ORTHANC_BIN:-$(command -v Orthanc 2>/dev/null || true)}"
[ -n "$ORTHANC" ] || { [ -x /usr/sbin/Orthanc ] && ORTHANC=/usr/sbin/Orthanc; } || true
[ -x "$ORTHANC" ] || ORTHANC=""
PLUGIN=""
for p in ${READERSTATION_ORTHANC_PLUGIN:-/usr/share/orthanc/plugins/libOrthancDicomWeb.so /usr/lib/orthanc/libOrthancDicomWeb.so*}; do
  if [ -e "$p" ]; then PLUGIN="$p"; break; fi
done
if [ -z "$ORTHANC" ] || [ -z "$PLUGIN" ]; then
  echo "orthanc.sh: Orthanc or its DICOMweb plugin is not installed (Debian packages orthanc," \
    "orthanc-dicomweb); run: bash scripts/system-deps.sh" >&2
  exit 3
fi

# Already running from this DIR: print its URL again.
if [ -f "$DIR/orthanc.pid" ] && kill -0 "$(cat "$DIR/orthanc.pid")" 2>/dev/null && [ -f "$DIR/url" ]; then
  cat "$DIR/url"
  exit 0
fi

stop_server
mkdir -p "$DIR/storage"
touch "$DIR/.readerstation-orthanc"
PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

cat >"$DIR/orthanc.json" <<EOF
{
  "Name": "readerstation-test",
  "StorageDirectory": "$DIR/storage",
  "IndexDirectory": "$DIR/storage",
  "StorageCompression": false,
  "HttpServerEnabled": true,
  "HttpPort": $PORT,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "HttpCompressionEnabled": false,
  "HttpThreadsCount": 8,
  "KeepAlive": true,
  "TcpNoDelay": true,
  "DicomServerEnabled": false,
  "SaveJobs": false,
  "MaximumStorageCacheSize": 0,
  "OverwriteInstances": true,
  "StorageAccessOnFind": "Never",
  "Plugins": ["$PLUGIN"],
  "DicomWeb": {
    "Enable": true,
    "Root": "/dicom-web/",
    "EnableWado": false,
    "Host": "127.0.0.1",
    "Ssl": false
  }
}
EOF

# setsid: the server outlives this script and gets its own process group.
setsid "$ORTHANC" "$DIR/orthanc.json" >"$DIR/orthanc.log" 2>&1 </dev/null &
echo $! >"$DIR/orthanc.pid"

URL="http://127.0.0.1:$PORT/dicom-web"
if ! "$PYTHON" - "$URL" <<'EOF'
import sys, time, urllib.request
url = sys.argv[1] + "/studies"
for _ in range(300):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status in (200, 204):
                sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
EOF
then
  echo "orthanc.sh: Orthanc did not answer on $URL within 30 s; its log:" >&2
  cat "$DIR/orthanc.log" >&2 || true
  stop_server
  exit 1
fi
echo "$URL" >"$DIR/url"
echo "$URL"
