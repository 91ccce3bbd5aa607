# The two commands a newcomer needs: `make demo` and `make test`. Both set up .venv when it is missing.
# make demo takes SCALE (sample size, 1 = 10,000 leads), SEED (the sample's random seed), DATA (folder for the raw
# sample and the warehouse) and PORT (the dashboards' port): make demo SCALE=10 PORT=8600.
PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
SCALE    ?= 1
SEED     ?= 42
DATA     ?= data
PORT     ?= 8501
RAW      := $(DATA)/raw
WAREHOUSE := $(DATA)/warehouse.duckdb

.PHONY: demo test test-fast test-spark lint venv clean docs chromium spark-java spark-venv
# Debian packages (chromium, Java) as root, or through sudo without a prompt: CI has no stdin, and `sudo -n` fails at
# once where a password would be asked. sudo resets the environment, so DEBIAN_FRONTEND goes through `env`.
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)
APT_GET  := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -y -qq

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,dagster]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/closedloop generate --scale $(SCALE) --seed $(SEED) --out $(RAW)
	# The sample is a fixed two-year window (same seed, same numbers): judge its freshness against its own end.
	$(BIN)/closedloop build --raw $(RAW) --warehouse $(WAREHOUSE) --freshness-as-of data
	$(BIN)/closedloop summary --warehouse $(WAREHOUSE)
	$(BIN)/closedloop serve --warehouse $(WAREHOUSE) --port $(PORT)

# The browser suite drives Debian's Chromium (playwright cannot download a browser here); install it when missing,
# with the CJK and emoji fonts the pages need (the page icons are emoji: no icon font is fetched from the web).
chromium:
	@{ command -v chromium && dpkg -s fonts-noto-cjk fonts-noto-color-emoji; } >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium, CJK and emoji fonts for the browser tests"; \
	  $(APT_GET) update && $(APT_GET) install chromium fonts-noto-cjk fonts-noto-color-emoji; }

# Spark (docs/scaling-out.md): Debian's Java 17 for pyspark, installed when missing (as `chromium` above does), and
# the optional `spark` extra (dbt-spark[session], pyspark) in .venv. Nothing is downloaded while a build runs.
SPARK_STAMP := $(VENV)/.installed-spark

# Spark 4 runs on Java 17 or 21. Debian's slim images have no /usr/share/man/man1, where Java's package links its
# manual pages: without it the package's configuration step fails.
spark-java:
	@command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE '"(17|21)\.' || { \
	  echo "Installing Debian's openjdk-17-jre-headless for Spark"; \
	  $(SUDO) mkdir -p /usr/share/man/man1 && $(APT_GET) update && $(APT_GET) install openjdk-17-jre-headless; }

$(SPARK_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,dagster,spark]'
	touch $(SPARK_STAMP)

spark-venv: $(SPARK_STAMP) spark-java

# Two workers, whole files each (module fixtures build once); the sample and defects builds are shared by both.
# The 25 slowest steps are listed at the end: where the suite's time goes, in every CI log (docs/testing.md).
PYTEST   := $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=25

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(PYTEST)

# The quick loop while developing: everything but the browser suites and the tests that build warehouses of
# their own. CI and `make test` run the full set.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(PYTEST) -m "not browser and not slow"

# Issue 16: the scale-0.1 sample built on DuckDB and on Spark local, every mart compared (docs/scaling-out.md).
test-spark: spark-venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m spark tests/test_spark.py

lint: $(STAMP)
	$(BIN)/ruff check .

docs: $(STAMP)
	$(BIN)/closedloop docs --warehouse $(WAREHOUSE)

clean:
	rm -rf $(DATA) target logs
