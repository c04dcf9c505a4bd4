#!/bin/bash
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site BWCOLOR_CACHE=/tmp/bwcache
L=$OUT/checks2.txt
echo "== first forward per new shape" > $L
timeout 50 python3 docs/benchmark/gpu-h200/probe_shapes.py >> $L 2>&1; echo "probe rc=$?" >> $L
echo "== colorize 64 photos of mixed shapes, effnet_unet, defaults" >> $L
( time PYTHONFAULTHANDLER=1 timeout -s ABRT 40 python3 -m bwcolor colorize .gpu/photos -o /tmp/c --json -q ) >> $L 2>&1; echo "colorize rc=$?" >> $L
echo "== effnet_unet e2e sweep" >> $L
timeout 50 python3 -c "
import sys,tempfile; sys.path.insert(0,'docs'); from pathlib import Path; import measure_gpu as m
m.MODELS=('effnet_unet',); r={'end_to_end':[]}
d=tempfile.mkdtemp(); p=m.gray_jpegs('.gpu/photos', Path(d)); m.end_to_end(p, r)" >> $L 2>&1; echo "e2e rc=$?" >> $L
echo "== tests fixed for fast machines" >> $L
timeout 70 python3 -m pytest -q -p no:cacheprovider tests/test_interruptions.py tests/test_distributed.py >> $L 2>&1; echo "pytest rc=$?" >> $L
cat $L
