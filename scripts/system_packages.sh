#!/usr/bin/env bash
# System packages the grader and its tests use, installed where this OS allows it:
#   bubblewrap  the grader's sandbox (an allowlist root for student code; see docs/grading.md)
#   postgresql  a real server for the gradebook test (tests/test_autograder_postgres.py)
#   chromium, chromium-driver  headless browser for the book's browser tests
#               (tests/test_book_browser.py drives /usr/bin/chromedriver with Selenium)
# Debian/Ubuntu as root: apt-get installs what is missing.  Elsewhere nothing is installed and
# the grader falls back to its weaker isolation levels (it says which), the PostgreSQL test
# and the browser tests skip with a message.  Never fails the setup.
set -u
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
{ command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } \
  || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >/dev/null 2>&1 || echo "warning: could not install ${missing[*]} (no package registry?)" >&2
else
  echo "note: not installed (needs root and apt-get): ${missing[*]}; see README" >&2
fi
exit 0
