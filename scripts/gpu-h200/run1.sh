#!/bin/bash
# One device call: GPU speed sweep, the benchmark report, 16-core CPU end to end, CUDA training, tests.
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site BWCOLOR_CACHE=/tmp/bwcache
mkdir -p /tmp/bin && printf '#!/bin/sh\nexec python3 -m bwcolor "$@"\n' > /tmp/bin/bwcolor && chmod +x /tmp/bin/bwcolor
export PATH=/tmp/bin:$PATH
L=$OUT/checks.txt
{ date; nvidia-smi; nproc; lscpu | grep 'Model name'; python3 -c "import torch,cv2,numpy;print(torch.__version__,torch.version.cuda,torch.backends.cudnn.version(),cv2.__version__,numpy.__version__)"; } > $L 2>&1
echo "== sweep" >> $L
timeout 210 python3 scripts/speed/measure_gpu.py .gpu/photos $OUT/gpu_sweep.json > $OUT/sweep.txt 2>&1; echo "sweep rc=$?" >> $L
echo "== benchmark" >> $L
timeout 90 python3 -m bwcolor benchmark .gpu/photos --limit 32 --batch-size 1 --batch-size 8 --batch-size 64 --precision fp32 --sheet 0 -o /tmp/bench >> $L 2>&1; echo "benchmark rc=$?" >> $L
cp /tmp/bench/report.md $OUT/bench_report.md; cp /tmp/bench/report.json $OUT/bench_report.json
echo "== cpu 16 cores" >> $L
for t in 16 12; do OMP_NUM_THREADS=$t CUDA_VISIBLE_DEVICES= timeout 45 python3 scripts/speed/measure_end_to_end.py .gpu/photos baseline fusion effnet_unet >> $OUT/cpu16.txt 2>&1; echo "cpu threads=$t rc=$?" >> $OUT/cpu16.txt; done
echo "== train cuda" >> $L
( time timeout 60 python3 -m bwcolor train .gpu/photos -m effnet_unet --epochs 2 --batch-size 32 --val-fraction 0.2 -o /tmp/t/e.safetensors -q ) >> $L 2>&1; echo "train effnet_unet rc=$?" >> $L
( time timeout 60 python3 -m torch.distributed.run --standalone --nproc-per-node=1 -m bwcolor train .gpu/photos -m baseline --epochs 2 --batch-size 32 --val-fraction 0.2 -o /tmp/t/b.safetensors -q ) >> $L 2>&1; echo "torchrun baseline rc=$?" >> $L
timeout 30 python3 -m bwcolor colorize .gpu/photos -m /tmp/t/e.safetensors -o /tmp/c --json -q >> $L 2>&1; echo "colorize trained rc=$?" >> $L
echo "== pytest" >> $L
timeout 150 python3 -m pytest -q -p no:cacheprovider --ignore=tests/test_fuzz_decode.py > $OUT/pytest.txt 2>&1; echo "pytest rc=$?" >> $L
tail -5 $OUT/pytest.txt >> $L
cat $L | tail -60
