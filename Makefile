# Every check a developer, the README and CI run. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
COLL_LINK := .collections/ansible_collections/baremetal/vip
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help system setup real-bin test unit kernel lint sanity molecule demo render validate bench build docs clean

help:
	@echo "system    install missing Debian packages of bindep.txt (root)"
	@echo "setup     create $(VENV) and link the checkout as baremetal.vip (idempotent)"
	@echo "real-bin  build (or reuse from ~/.cache/baremetal.vip/bin) the real lab's programs from their Go modules"
	@echo "demo      the main job on the built-in example lab"
	@echo "test      every test, lint and sanity check (what CI runs)"
	@echo "unit      pytest without the kernel and lab tests"
	@echo "kernel    pytest: network namespaces, User-Mode Linux, the lab (root)"
	@echo "lint      yamllint, ansible-lint (production), role READMEs, antsibull-docs lint, galaxy-importer on the tarball"
	@echo "sanity    ansible-test sanity, no ignore file"
	@echo "molecule  every molecule scenario"
	@echo "bench     benchmarks (not part of test)"
	@echo "build     ansible-galaxy collection build into build/"
	@echo "docs      the HTML docs site (antsibull-docs + Sphinx) into build/docs"

# Debian packages of bindep.txt that are missing (installed when root).
system:
	tests/scripts/system-deps.sh

setup: $(VENV)/.installed $(COLL_LINK)

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(COLL_LINK):
	mkdir -p $(dir $(COLL_LINK))
	ln -sfn ../../.. $(COLL_LINK)

# kube-apiserver, kubeadm, kube-proxy, etcd, kube-vip, kube-vip-cloud-provider; prints name=/path last
real-bin: setup
	$(BIN)/python tests/realbin/realbin.py

test: system setup real-bin
	$(BIN)/python -m pytest -p no:cacheprovider --durations=30 tests
	$(MAKE) lint
	$(MAKE) sanity
	$(MAKE) molecule

unit: setup
	$(BIN)/python -m pytest -p no:cacheprovider tests --ignore=tests/kernel --ignore=tests/lab

kernel: setup
	$(BIN)/python -m pytest -p no:cacheprovider tests/kernel tests/lab

lint: setup
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production --offline
	$(BIN)/python tests/scripts/role_readmes.py --check
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	$(MAKE) build
	$(BIN)/python tests/scripts/galaxy_import.py

sanity: setup
	tests/scripts/sanity.sh

molecule: setup
	tests/scripts/molecule.sh

validate: setup
	$(BIN)/ansible-playbook -i examples/arp-metallb/inventory.yml playbooks/validate.yml

render: setup
	$(BIN)/ansible-playbook -i examples/arp-metallb/inventory.yml playbooks/render.yml -e vip_render_dir=$(CURDIR)/build/render

demo: system setup real-bin
	tests/scripts/demo.sh

bench: setup
	$(BIN)/python tests/bench/run.py $(BENCH_ARGS)

build: setup
	mkdir -p build
	$(BIN)/ansible-galaxy collection build --force --output-path build .

# docs/development.md: what each step checks and how long it takes
docs: setup
	tests/scripts/docs.sh

clean:
	rm -rf build .collections tests/output
