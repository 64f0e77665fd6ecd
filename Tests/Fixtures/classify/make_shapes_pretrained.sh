#!/usr/bin/env bash
# Writes Tests/Fixtures/classify/shapes_pretrained.safetensors, the pretrained weights that the
# classification fine-tuning test starts from: the tiny shapes HRNet trained by `hrnet train` on
# ten synthetic shapes (3000 training images of 40x40). Run from the repository root; ~10 minutes
# on 2 cores. Same seeds and thread count, same weights.
set -euo pipefail
swift build -c release --product hrnet
H=.build/release/hrnet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$H synth-cls --out "$work/shapes10" --classes 10 --images 300 --val 50 --size 40 --seed 11
$H train --config Tests/Fixtures/classify/shapes_pretrain.yaml --data "$work/shapes10" --out "$work/run" --seed 0 --threads 2
cp "$work/run/best.safetensors" Tests/Fixtures/classify/shapes_pretrained.safetensors
