#!/bin/sh
# make demo: the built-in default job: a local pool of two workers
# (configs/local-2.ini) serving the small real model in ../shared through
# `coord serve` — the OpenAI-compatible API and the web page. It asks one
# question through the API, shows the pool, and, when run from a terminal,
# keeps serving until Ctrl-C (open the printed address in a browser).
set -eu
BUILD=${1:-build}
CONFIG=${CONFIG:-configs/local-2.ini}
MODEL=${MODEL:-../shared/models/stories260K.gguf}
PORT=${PORT:-8080}
URL="http://127.0.0.1:$PORT"
if [ ! -f "$MODEL" ]; then
    echo "demo: $MODEL not found (the shared test data sits beside the project)" >&2
    exit 1
fi
echo "== coord plan --config $CONFIG -m $MODEL"
"$BUILD/coord" plan --config "$CONFIG" -m "$MODEL"
echo
echo "== coord serve --config $CONFIG --model $MODEL --listen 127.0.0.1:$PORT"
"$BUILD/coord" serve --config "$CONFIG" --model "$MODEL" --listen "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
    curl -sf "$URL/health" >/dev/null 2>&1 && break
    kill -0 $SERVER 2>/dev/null || { echo "demo: coord serve exited" >&2; exit 1; }
    sleep 0.2
done
echo
echo "== POST $URL/v1/completions  {\"prompt\": \"Once upon a time\", \"max_tokens\": 60, \"temperature\": 0}"
curl -s "$URL/v1/completions" -H 'Content-Type: application/json' \
    -d '{"prompt": "Once upon a time", "max_tokens": 60, "temperature": 0}'
echo
echo
echo "== GET $URL/v1/pool"
curl -s "$URL/v1/pool"
echo
if [ -t 0 ] && [ -t 1 ]; then
    echo
    echo "== serving: open $URL in a browser (chat + pool view); Ctrl-C stops"
    wait $SERVER
fi
