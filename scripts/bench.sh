#!/usr/bin/env bash
# End-to-end benchmark of `thematic code` against byte-pass references
# (`wc -w`, `rg`) and single-threaded Python peers (liwc, flashtext,
# pyahocorasick). Writes bench-data/results.md and prints it.
# Not part of `cargo test`; see docs/BENCHMARKS.md.
#
# usage: scripts/bench.sh            # ~100 MB corpus (250,000 rows), 3 runs each
#   ROWS=N SEED=S RUNS=K scripts/bench.sh
#   BIG_ROWS=2500000 scripts/bench.sh   # also peak RSS and time on ~1 GB
#   PEERS=0 scripts/bench.sh            # skip the Python peers
set -euo pipefail

cd "$(dirname "$0")/.."
ROWS=${ROWS:-250000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
BIG_ROWS=${BIG_ROWS:-0}
PEERS=${PEERS:-1}
DATA=bench-data
BIN=target/release/thematic
GEN=target/release/examples
mkdir -p "$DATA"

log() { printf '== %s\n' "$*" >&2; }

log "build (release)"
cargo build --release --quiet --bin thematic --example gen_corpus --example gen_lexicon

CORPUS=$DATA/corpus-$ROWS-s$SEED.csv
if [ ! -s "$CORPUS" ]; then
  log "generate $CORPUS"
  "$GEN/gen_corpus" --rows "$ROWS" --seed "$SEED" --out "$CORPUS.tmp"
  mv "$CORPUS.tmp" "$CORPUS"
fi
for n in 200 5000; do
  "$GEN/gen_lexicon" --terms $n --seed "$SEED" --toml "$DATA/lex$n.toml" \
    --dic "$DATA/lex$n.dic" --terms-txt "$DATA/lex$n.txt"
done
BYTES=$(stat -c %s "$CORPUS")

PY=""
if [ "$PEERS" = 1 ]; then
  if [ ! -x "$DATA/venv/bin/python" ]; then
    log "python venv with liwc, pyahocorasick, flashtext"
    python3 -m venv "$DATA/venv"
    "$DATA/venv/bin/pip" install --quiet liwc pyahocorasick flashtext
  fi
  PY="$DATA/venv/bin/python"
fi

# Named commands, in table order.
NAMES=() CMDS=()
add() { NAMES+=("$1"); CMDS+=("$2"); }
# `--id id` fills the respondent columns (distinct ids per cell), the usual
# survey setting; the large-input run below also measures without it.
code() { # lexicon-size threads
  echo "$BIN code $CORPUS --lexicon $DATA/lex$1.toml --id id --group group --question question --out $DATA/out-$1-t$2 --quiet --threads $2"
}
add "wc -w" "wc -w $CORPUS"
if command -v rg >/dev/null; then
  add "rg -c -w -F -i (200 terms)" "rg -c -w -F -i -f $DATA/lex200.txt $CORPUS"
  add "rg -c -w -F -i (5000 terms)" "rg -c -w -F -i -f $DATA/lex5000.txt $CORPUS"
fi
for n in 200 5000; do
  for t in 1 2; do
    add "thematic code, $n terms, --threads $t" "$(code $n $t)"
  done
done
# The same lexicons as LIWC `.dic` files: liwc semantics, the peers' own.
for n in 200 5000; do
  add "thematic code, $n terms .dic (liwc semantics), --threads 2" \
    "$BIN code $CORPUS --lexicon $DATA/lex$n.dic --id id --group group --question question --out $DATA/out-dic$n --quiet --threads 2"
done
if [ -n "$PY" ]; then
  for n in 200 5000; do
    add "python liwc, $n terms" "$PY scripts/peers/liwc_peer.py $CORPUS $DATA/lex$n.dic"
    add "python flashtext, $n terms" "$PY scripts/peers/flashtext_peer.py $CORPUS $DATA/lex$n.dic"
    add "python pyahocorasick, $n terms" "$PY scripts/peers/aho_peer.py $CORPUS $DATA/lex$n.dic"
  done
fi

log "page cache: $CORPUS ($BYTES bytes)"
cat "$CORPUS" >/dev/null
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# medians.tsv: name <TAB> median s <TAB> min <TAB> max <TAB> mean user+sys s
# (CPU time, empty without hyperfine: on a shared machine it is steadier
# than wall time for the single-threaded commands).
MED=$DATA/medians.tsv
: >"$MED"
if command -v hyperfine >/dev/null; then
  log "hyperfine, $RUNS runs each"
  args=()
  for i in "${!NAMES[@]}"; do args+=(-n "${NAMES[$i]}" "${CMDS[$i]}"); done
  hyperfine --runs "$RUNS" --style basic --export-json "$DATA/hyperfine.json" "${args[@]}" >&2
  python3 - "$DATA/hyperfine.json" >"$MED" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']}\t{r['median']}\t{r['min']}\t{r['max']}\t{r['user'] + r['system']}")
PY
else
  log "no hyperfine: bash loop, median of $RUNS"
  for i in "${!NAMES[@]}"; do
    ts=()
    for _ in $(seq "$RUNS"); do
      s=$(date +%s.%N); bash -c "${CMDS[$i]}" >/dev/null; e=$(date +%s.%N)
      ts+=("$(echo "$e - $s" | bc)")
    done
    sorted=$(printf '%s\n' "${ts[@]}" | sort -g)
    printf '%s\t%s\t%s\t%s\t\n' "${NAMES[$i]}" "$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")" \
      "$(echo "$sorted" | head -1)" "$(echo "$sorted" | tail -1)" >>"$MED"
  done
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

log "peak RSS (/usr/bin/time -v, one run each)"
RSS=$DATA/rss.tsv
: >"$RSS"
for i in "${!NAMES[@]}"; do
  kb=$(/usr/bin/time -v bash -c "exec ${CMDS[$i]} >/dev/null" 2>&1 |
    awk -F': ' '/Maximum resident set size/ {print $2}')
  printf '%s\t%s\n' "${NAMES[$i]}" "$kb" >>"$RSS"
done

log "startup: bundled lexicon on fixtures/responses.csv (176 answers)"
STARTUP_CMD="$BIN code fixtures/responses.csv --id participant_id --group group --question question --out $DATA/out-fixtures --quiet"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 3 --runs 30 --style basic --export-json "$DATA/startup.json" -n startup "$STARTUP_CMD" >&2
  STARTUP_MS=$(python3 -c "import json;r=json.load(open('$DATA/startup.json'))['results'][0];print(f\"{r['median']*1000:.1f} ms (min {r['min']*1000:.1f}, max {r['max']*1000:.1f})\")")
else
  s=$(date +%s%N); for _ in $(seq 10); do $STARTUP_CMD; done; e=$(date +%s%N)
  STARTUP_MS="$(((e - s) / 10000000)) ms (mean of 10)"
fi

BIG_LINE=""
if [ "$BIG_ROWS" -gt 0 ]; then
  BIG=$DATA/corpus-$BIG_ROWS-s$SEED.csv
  if [ ! -s "$BIG" ]; then
    log "generate $BIG"
    "$GEN/gen_corpus" --rows "$BIG_ROWS" --seed "$SEED" --out "$BIG.tmp"
    mv "$BIG.tmp" "$BIG"
  fi
  cat "$BIG" >/dev/null
  for n in 5000 200; do
    for idarg in "--id id" ""; do
      log "peak RSS on $BIG, $n terms ${idarg:-(no --id)}"
      out=$(/usr/bin/time -v $BIN code "$BIG" --lexicon $DATA/lex$n.toml $idarg --group group \
        --question question --out $DATA/out-big --quiet --threads 2 2>&1 >/dev/null)
      kb=$(echo "$out" | awk -F': ' '/Maximum resident set size/ {print $2}')
      wall=$(echo "$out" | awk -F': ' '/Elapsed \(wall clock\)/ {print $2}')
      BIG_LINE+="
- $(stat -c %s "$BIG") bytes, $n terms, --threads 2, ${idarg:-no --id}: peak RSS $((kb / 1024)) MB, wall $wall"
    done
  done
fi

python3 - "$MED" "$RSS" "$BYTES" >"$DATA/results.md" <<'PY'
import sys
med = [(l.rstrip("\n").split("\t") + [""])[:5] for l in open(sys.argv[1]) if l.strip()]
rss = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip())
size = int(sys.argv[3])
mbs = {n: size / 1e6 / float(m) for n, m, *_ in med}
cpu = {n: size / 1e6 / float(c) for n, _, _, _, c in med if c}
wc = mbs.get("wc -w")
print("| command | median s (min–max) | MB/s | × `wc -w` | CPU s (mean user+sys) | MB per CPU s | peak RSS MB |")
print("|---|---:|---:|---:|---:|---:|---:|")
for n, m, lo, hi, c in med:
    r = rss.get(n, "")
    r = f"{int(r) / 1024:.0f}" if r else ""
    ratio = f"{mbs[n] / wc:.2f}" if wc else ""
    cs = f"{float(c):.2f}" if c else ""
    cm = f"{cpu[n]:.1f}" if n in cpu else ""
    print(f"| {n} | {float(m):.2f} ({float(lo):.2f}–{float(hi):.2f}) | {mbs[n]:.1f} | {ratio} | {cs} | {cm} | {r} |")
PY
{
  echo
  echo "Corpus: $CORPUS, $BYTES bytes, $ROWS rows; $RUNS runs per command."
  echo "Load average before/after the timed runs: $LOAD_BEFORE / $LOAD_AFTER (nproc $(nproc))."
  echo "Startup + bundled lexicon, fixtures (176 answers): $STARTUP_MS."
  [ -n "$BIG_LINE" ] && echo "Large input:$BIG_LINE"
} >>"$DATA/results.md"
cat "$DATA/results.md"
