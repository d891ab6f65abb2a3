# Two entry points, each creating the virtual environment when it is missing:
#   make demo   - the smoke sweep (5 fusion variants, tiny model, synthetic COCO, CPU) + its report
#   make test   - the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.asffbench-installed
SMOKE_DIR ?= runs/smoke
# Test processes (pytest-xdist, each idle worker takes the next test; conftest.py puts the
# files with slow tests first). 2 suits the 2-core CI machine; TEST_WORKERS=0 runs everything in this process.
# The tests marked cuda need a GPU: pyproject.toml deselects them, scripts/gpu-check.sh runs them.
TEST_WORKERS ?= 2

.PHONY: demo test venv bench-latency example-report slurm-start slurm-stop clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	# The extra `robust` pulls the GUI OpenCV build, which overwrites the headless one's cv2 files
	# (and needs libGL); installing the headless build again puts its files back (docs/robustness.md).
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
		"opencv-python-headless==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("opencv-python-headless"))')"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/asffbench sweep smoke hydra.sweep.dir=$(SMOKE_DIR); status=$$?; \
	$(BIN)/asffbench report $(SMOKE_DIR) --out $(SMOKE_DIR)/report && \
	echo "report: $(SMOKE_DIR)/report/report.md"; exit $$status

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --durations=25

# The fusion latency figures of docs/benchmarks.md.
bench-latency: $(STAMP)
	$(BIN)/python benchmarks/bench_fusion_latency.py

# Regenerate the committed example report from a fresh smoke sweep.
example-report: demo
	rm -rf reports/smoke && cp -r $(SMOKE_DIR)/report reports/smoke

slurm-start:
	bash scripts/slurm-local.sh start

slurm-stop:
	bash scripts/slurm-local.sh stop

clean:
	rm -rf $(VENV) runs outputs multirun .pytest_cache
