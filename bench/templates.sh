#!/usr/bin/env bash
# bench/templates.sh — renders/s of a typical transactional template (TemplateRenderer, cached compiled version),
# on one thread: a warm-up, then 5 runs of a fixed duration, each printed, and their median (target >= 20,000/s).
#
#   bench/templates.sh                          5 runs of 5 s after a 3 s warm-up
#   bench/templates.sh --duration 10 --text     longer runs; --text also derives the text part (AngleSharp)
#
# Arguments are passed to the bench (--runs N, --duration S, --warmup S, --text). Builds in Release first
# unless NO_BUILD=1. Other work on the machine skews the figures: run it on a quiet machine.
set -euo pipefail

cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

PROJECT="bench/EmailPlatform.TemplateBench/EmailPlatform.TemplateBench.csproj"
DLL="bench/EmailPlatform.TemplateBench/bin/Release/net10.0/EmailPlatform.TemplateBench.dll"

if [[ ${NO_BUILD:-0} != 1 ]]; then
  echo "==> building the template bench (Release)" >&2
  dotnet build "$PROJECT" -c Release -v q -nologo >&2
fi

exec dotnet "$DLL" "$@"
