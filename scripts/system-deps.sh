#!/usr/bin/env bash
# Install the Debian/Ubuntu packages readerstation needs that a fresh machine may lack:
# Python venv support, Xvfb and the Mesa GL/EGL + xcb/xkb libraries Qt and napari need, and
# dicom3tools (dciodvfy validates the DICOM SR exports in the tests), and Orthanc with its
# DICOMweb plugin (the PACS tests start their own server with scripts/orthanc.sh; the package's
# system service is not used).
# Idempotent: installs only what is missing; uses sudo when not root.
set -euo pipefail

PACKAGES=(
  python3-venv python3-dev build-essential make
  xvfb xauth
  libgl1 libegl1 libgl1-mesa-dri libglx-mesa0 libglu1-mesa
  libxkbcommon0 libxkbcommon-x11-0 libxcb1 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-shm0 libxcb-sync1
  libxcb-xfixes0 libxcb-xinerama0 libxcb-xinput0 libxcb-xkb1 libxcb-cursor0 libx11-xcb1
  libxrender1 libxi6 libxext6 libsm6 libice6 libfontconfig1 libfreetype6 libdbus-1-3
  fonts-dejavu-core
  dicom3tools
  orthanc orthanc-dicomweb
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
