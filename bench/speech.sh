#!/usr/bin/env bash
# Speech recognition on the box: word error rate and decode time of the
# candidate on-box recogniser (PyPI pocketsphinx 5.x, its bundled en-us
# model; nothing downloaded at run time) on the demo bank bot's held-out
# test utterances spoken by espeak-ng and flite voices over a telephone line
# (8 kHz A-law, clean and at 15 dB SNR), by free dictation and by a grammar
# of the bot's words. Not part of the test suite.
#
#   bench/speech.sh            # UTTERANCES=60 by default
#
# Needs espeak-ng (and flite for its voices: apt-get install flite).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/speech-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "pocketsphinx==5.1.1" "numpy<3"
fi
echo "machine: $(nproc) cores; one decoder on one core"
"$venv/bin/python" bench/speech/measure.py
