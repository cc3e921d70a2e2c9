#!/usr/bin/env bash
# Memory with the largest image the default pixel limit admits, and with a bomb it refuses (issue "Hostile inputs: no
# crash, no bomb"). Builds the CLI and the scoring sample (Release), trains a tiny LeNet-5 model.zip with the CLI (or
# reuses the one in WORK), writes two PNGs with python3 + zlib (no PIL):
#   big.png   8192×8192 = 67,108,864 pixels, exactly the default limit (256 MiB decoded as RGBA)
#   bomb.png  20000×20000 zeros, ≈ 0.4 MB on disk, 1.6 GB decoded: refused from its header
# and prints the peak resident set size of
#   (a) hypersparse predict --model model.zip big.png              (/usr/bin/time -v)
#   (b) the scoring sample's web API while 16 clients POST big.png at once   (VmHWM of the server)
#   (c) the same with bomb.png                                      (a fresh server, so its high-water mark is its own)
# as lines "memory: … peak RSS N MB (limit L pixels, …)". Everything listens on 127.0.0.1 only; fetches nothing from
# the web (Debian packages and a NuGet restore at most, through build/setup.sh).
#
# Tunables (environment): WORK (artifacts/bench-image-memory: model, images, logs), CLIENTS (16), PORT (a free one).
# Budget: ≈ 2–4 min on a 2-core box (training ≈ 1 min the first time).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source "$ROOT/build/setup.sh"
hs_setup >/dev/null
command -v /usr/bin/time >/dev/null 2>&1 || hs_apt_install time
command -v curl >/dev/null 2>&1 || hs_apt_install curl

WORK=${WORK:-artifacts/bench-image-memory}
CLIENTS=${CLIENTS:-16}
DATA=${HYPERSPARSE_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
LIMIT="67,108,864"   # ImageGate.DefaultMaxPixels: both tools run with their default
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

echo "command: build/bench-image-memory.sh (WORK=$WORK CLIENTS=$CLIENTS)"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo) RAM, load average $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u +%Y-%m-%dT%H:%MZ)"

echo "bench-image-memory: building the CLI and the scoring sample (Release)"
dotnet build src/Samples/HyperSparse.Cli -c Release -v q -nologo >/dev/null
dotnet build src/Samples/ScoringSample -c Release -v q -nologo >/dev/null
CLI="$ROOT/src/Samples/HyperSparse.Cli/bin/Release/net10.0/HyperSparse.Cli.dll"
SAMPLE="$ROOT/src/Samples/ScoringSample/bin/Release/net10.0/ScoringSample.dll"

MODEL="$WORK/model/model.zip"
if [ -f "$MODEL" ]; then
  echo "bench-image-memory: reusing $MODEL"
else
  echo "bench-image-memory: training a tiny LeNet-5 (600 images, 1 + 1 + 1 epochs)"
  rm -rf "$WORK/model"
  dotnet "$CLI" train --data "$DATA" --out "$WORK/model" --limit 600 --warmup 1 --max-art 1 --finetune 1 --plain >"$WORK/train.log" 2>&1 \
    || { cat "$WORK/train.log" >&2; exit 1; }
fi

# Gray PNGs written row by row through zlib, so neither the script nor the file holds the decoded image.
python3 - "$WORK" <<'PY'
import struct, sys, zlib
def png(path, width, height, row):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(b"\0" + row) for _ in range(height)) + z.flush()
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
work = sys.argv[1]
png(work + "/big.png", 8192, 8192, bytes(range(256)) * 32)   # a ramp: every pixel decoded, still small on disk
png(work + "/bomb.png", 20000, 20000, bytes(20000))
PY
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
size() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f MB", b / 1e6 }'; }
echo "bench-image-memory: big.png 8192×8192 ($(size "$WORK/big.png")), bomb.png 20000×20000 ($(size "$WORK/bomb.png"))"

# (a) the CLI, one process per image
/usr/bin/time -v dotnet "$CLI" predict --model "$MODEL" "$WORK/big.png" >"$WORK/predict.out" 2>"$WORK/predict.time" \
  || { cat "$WORK/predict.out" "$WORK/predict.time" >&2; exit 1; }
peak=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/predict.time")
echo "memory: hypersparse predict big.png peak RSS $(mb "$peak") MB (limit $LIMIT pixels, image 8192×8192 = 67,108,864 pixels, admitted)"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# Starts the web API, POSTs one image from CLIENTS clients at once, prints the server's peak RSS, stops it.
serve_and_post() {
  local image=$1 label=$2 port=${PORT:-$(free_port)} log="$WORK/serve-$2.log"
  dotnet "$SAMPLE" "$MODEL" --serve --port "$port" >"$log" 2>&1 &
  local pid=$!
  # Bounded wait for the line the sample prints once the port is bound.
  for _ in $(seq 240); do
    grep -q "serving on" "$log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.5
  done
  grep -q "serving on" "$log" || { kill "$pid"; cat "$log" >&2; exit 1; }
  local idle
  idle=$(hwm "$pid")
  for i in $(seq "$CLIENTS"); do
    curl -s --max-time 600 -o "$WORK/$label-$i.json" -w "%{http_code}\n" \
      -H "Content-Type: application/octet-stream" --data-binary "@$image" "http://127.0.0.1:$port/predict" >"$WORK/$label-$i.code" &
  done
  wait $(jobs -p | grep -vx "$pid")
  local peak codes
  peak=$(hwm "$pid")
  codes=$(sort "$WORK/$label"-*.code | uniq -c | awk '{printf "%s%s× HTTP %s", sep, $1, $2; sep=", "}')
  kill -TERM "$pid"
  wait "$pid" || true
  echo "memory: web API, $CLIENTS clients POST $label at once, peak RSS $(mb "$peak") MB (limit $LIMIT pixels, $(nproc) decode slots; idle peak before the requests $(mb "$idle") MB; $codes)"
}
serve_and_post "$WORK/big.png" big.png
serve_and_post "$WORK/bomb.png" bomb.png
echo "memory: refusal message: $(head -c 300 "$WORK/bomb.png-1.json")"
