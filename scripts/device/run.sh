#!/bin/bash
# Every GPU measurement of the lent NVIDIA machine in one prepared run (see scripts/device/pack.mjs). Each step writes
# its JSON to $OUT as it ends, so a run cut short still returns what it finished; the decode acceptance comes first
# (verify on every reference model, the GEMV sweep, decode with --profile and a 512-token prefill), the loads after.
# ONLY=<regex> runs the steps whose names match (e.g. ONLY='verify|matvec|decode'). Locally: LOCAL=1 OUT=/tmp/x bash …
set -u
OUT=${OUT:-/tmp/device-out}; mkdir -p "$OUT"
G=.gpu
if [ -z "${LOCAL:-}" ]; then
  for f in $G/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  mkdir -p /tmp/bin node_modules/webgpu/dist/linux-x64
  xz -dc $G/node.xz > /tmp/bin/node && chmod +x /tmp/bin/node
  xz -dc $G/dawn.node.xz > node_modules/webgpu/dist/linux-x64/dawn.node
  cp $G/webgpu/* node_modules/webgpu/
  export PATH=/tmp/bin:$PATH
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
fi
M=$G/models
DATA=${DATA:-/tmp/llama-1b}
PARAMS=${PARAMS:-1.1e9}
log() { echo "== $(date +%T) $*"; }
want() { [[ -z "${ONLY:-}" || $1 =~ $ONLY ]]; } # ONLY=<regex>: only the steps (and what they need) it matches
wantAny() { local n; for n; do want "$n" && return 0; done; return 1; }
LOADS_1B="load-streamed-gpu load-streamed-gpu-main load-streamed-cpu load-int8 load-fp16-naive prof tune-c4-r4"
step() { # name, command...: stdout (JSON lines) to $OUT/name.jsonl, stderr to the log
  local name=$1; shift; want "$name" || return; log "$name"
  timeout "${STEP_TIMEOUT:-150}" "$@" > /tmp/step.out 2> >(grep -v 'artificially reduced' | tail -c 2000 >&2); local rc=$?
  # one file for every step (what comes back from the machine is a few files): {"step", "r": <each JSON line>}
  grep '^{' /tmp/step.out | sed "s/^/{\"step\":\"$name\",\"r\":/; s/\$/}/" >> "$OUT/all.jsonl"
  echo "   rc=$rc $(tail -c 300 /tmp/step.out)"
}
# 1. correctness on the real GPU: every reference model, fp16 and int8
KJV=public/models/kjv-llama
for m in $KJV llama-outliers-fp16 llama-gqa-bf16 qwen2-bias-fp32 mistral-headdim-bf16 llama-tied-mqa-fp16; do
  for p in fp16 int8; do
    step "verify-$(basename $m)-$p" node $G/verify.mjs --model $( [ -d $m ] && echo $m || echo $M/$m ) --precision $p --json
  done
done
# the model families (Qwen3, Gemma 2/3, Phi-3, SmolLM3, OLMo 2, Granite): fp16 against the fixture, int8 reported
for f in $M/families/*/; do
  for p in fp16 int8; do step "verify-$(basename $f)-$p" node $G/verify.mjs --model $f --precision $p --json; done
done
# 2. the generated 1.1B Llama-shaped bf16 checkpoint (decode, prefill, loads)
if wantAny matvec-1b decode-1b $LOADS_1B; then
  log gen; [ -f $DATA/model.safetensors ] || node $G/gen-checkpoint.mjs --out $DATA --params $PARAMS --dtype bf16 | tee -a "$OUT/gen.json"
fi
# 3. decode: the one-token products per kernel variant on the 1.1B's shapes (the best per precision), then fp16 and
#    int8 decode at contexts 16 / 512 / 1536 with the per-kernel GPU profile, and a 512-token prefill; again with the
#    sweep's best variant where it is not the default; kjv-llama and its quality as before
step matvec-1b node $G/bench-matvec.mjs --json
BEST=$(want matvec-1b && grep -h '"matvec-best"' /tmp/step.out | tail -1)
best() { [ -n "$BEST" ] && echo "$BEST" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const b=JSON.parse(s).best||{};process.stdout.write(b['$1']||'')})"; }
STEP_TIMEOUT=400 step decode-1b node $G/bench.mjs decode --model $DATA --precision fp16,int8 --contexts 16,512,1536 --steps 32 --profile --prefill 512 --json
for p in fp16 int8; do
  v=$(best $p)
  [ -n "$v" ] && [ "$v" != "64:4:sg" ] && STEP_TIMEOUT=300 step decode-1b-$p-best node $G/bench.mjs decode --model $DATA --precision $p --contexts 16,512,1536 --steps 32 --matvec $v --json
done
step decode-kjv node $G/bench.mjs decode --model $KJV --precision fp16,int8 --contexts 16,512 --steps 32 --profile --json
step quality-kjv node $G/bench.mjs quality --model $KJV --json
step attention-1b node $G/bench-attention.mjs --json
# the cache's SHA-256 on that machine's CPU: the whole-file check (hash-wasm, resumable) against native digests
step hash node $G/bench.mjs hash --mib 1024 --json
serve() { # dir, log: serves dir from a separate process (SERVER), its base URL in URL
  node $G/serve-dir.mjs "$1" > "$2" & SERVER=$!
  for i in $(seq 50); do grep -q listening "$2" && break; sleep 0.1; done
  URL=$(sed -n 's/^listening \(\S*\).*/\1/p' "$2")
}
# 4. loads over HTTP from a separate server process
if wantAny $LOADS_1B; then
serve $DATA /tmp/serve.txt
step load-streamed-gpu node $G/bench.mjs load --model $URL --strategy streamed --convert-on gpu --repeat 3 --json
step load-streamed-gpu-main node $G/bench.mjs load --model $URL --strategy streamed --convert-on gpu --reader main --repeat 2 --json
step load-streamed-cpu node $G/bench.mjs load --model $URL --strategy streamed --convert-on cpu --repeat 2 --json
step load-int8 node $G/bench.mjs load --model $URL --strategy streamed-int8 --convert-on gpu --repeat 2 --json
step load-fp16-naive node $G/bench.mjs load --model $URL --strategy fp16,naive --json
if [ -n "${PROF:-}" ]; then # a V8 CPU profile of one streamed load (main thread and reader thread)
  mkdir -p $OUT/prof
  step prof node --cpu-prof --cpu-prof-dir=$OUT/prof $G/bench.mjs load --model $URL --strategy streamed --convert-on gpu --json
  gzip -9 $OUT/prof/*.cpuprofile
fi
if [ -n "${TUNE:-}" ]; then # the stream's chunk and the reader thread's ring
  for c in 4 8; do for r in 4 8 16; do
    step tune-c$c-r$r node $G/bench.mjs load --model $URL --strategy streamed --convert-on gpu --chunk-mib $c --ring $r --repeat 3 --json
  done; done
fi
kill $SERVER
fi
# 5. the seed's 7B table: a Llama 2 7B-shaped bf16 checkpoint (13.5 GB) generated on this machine's disk at disk
#    speed (--fast), in 2 GB shards (the whole-file strategies read a file into one ArrayBuffer, at most 4 GiB in
#    Node 20), loaded over HTTP from a separate process with each strategy: load time, peak GPU (ledger), peak host
#    (rss) and its growth per GB (bench load's hostGrowth). Streamed first: naive and fp16 take the longest. Budget
#    (estimated from the 1.1B figures, ×6.1 the bytes): generation 10–30 s, streamed and streamed-int8 about 35 s each
#    with their raw-fetch baselines, fp16 about 60 s, naive about 90 s. SKIP_7B=1 leaves it out; ONLY=7b runs only it.
#    GEN_7B replaces the generator's arguments (a smaller checkpoint for a local dry run).
D7=${DATA7B:-/tmp/llama-7b}
if [ -z "${SKIP_7B:-}" ] && wantAny load-7b-streamed load-7b-streamed-int8 load-7b-fp16 load-7b-naive; then
  log gen-7b; [ -f $D7/config.json ] || node $G/gen-checkpoint.mjs --out $D7 ${GEN_7B:---shape llama-7b --shard-gb 2 --fast} | tee -a "$OUT/gen.json"
  serve $D7 /tmp/serve7.txt
  for s in streamed streamed-int8 fp16 naive; do
    STEP_TIMEOUT=${STEP_TIMEOUT_7B:-240} step load-7b-$s node $G/bench.mjs load --model $URL --strategy $s --json
  done
  kill $SERVER
fi
log done
