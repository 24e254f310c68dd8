# One command runs the system (make up), one runs the tests (make test).
SHELL := /bin/bash
STACK := scripts/stack.sh
PYTEST := .venv/bin/pytest
REPLICAS ?= 1

.PHONY: up down clean status test test-unit install

up:            ## install what is missing and start the whole system; REPLICAS=N runs N processes of each service
	@REPLICAS=$(REPLICAS) $(STACK) up

down:          ## stop what `make up` started; data stays in var/
	@$(STACK) down

clean:         ## stop and remove all local data
	@$(STACK) clean

status:
	@$(STACK) status

install:
	@$(STACK) infra

test:          ## start RabbitMQ and the docstore if needed, then run unit, integration and e2e tests
	@WITH_COMPOSE_CHECK=1 $(STACK) infra
	@.venv/bin/ruff check services shared bench tests
	@cd tools/docstore && go vet ./... && go test ./...
	@$(PYTEST) -q

test-unit:
	@$(PYTEST) -q tests/unit

.PHONY: bench chaos
bench:         ## throughput, latency, timer, memory, intake-ceiling (wrk) and store benchmarks (after make up or make install)
	@$(STACK) infra
	@.venv/bin/python -m bench.run
	@.venv/bin/python -m bench.timers
	@.venv/bin/python -m bench.intake_wrk --quick
	@.venv/bin/python -m bench.store --tickets 10000 --open 2000 --quick

chaos:         ## the fault harness, long form
	@$(STACK) infra
	@.venv/bin/python -m bench.chaos --tickets 800 --rate 8 --replicas $(REPLICAS)

.PHONY: k8s
KUSTOMIZE := var/bin/kustomize
OVERLAY ?= production

$(KUSTOMIZE): $(wildcard tools/kustomize/*)
	@mkdir -p $(@D)
	@cd tools/kustomize && go build -buildvcs=false -o ../../$(KUSTOMIZE) .

k8s: $(KUSTOMIZE)  ## print the Kubernetes manifests of one overlay: make k8s OVERLAY=dev
	@$(KUSTOMIZE) build deploy/k8s/overlays/$(OVERLAY)

.PHONY: cluster-up cluster-down cluster-status bench-cluster chaos-cluster bench-timer-replicas
cluster-up:    ## three clustered RabbitMQ nodes on 5681-5683 (management 15681-15683); prints AMQP_URL
	@scripts/rabbit_cluster.sh up

cluster-down:  ## stop the three nodes; their data stays in var/rabbit-cluster
	@scripts/rabbit_cluster.sh down

cluster-status:
	@scripts/rabbit_cluster.sh status

bench-cluster: ## confirmed publish+consume on one node vs the cluster, and what stopping a node costs
	@.venv/bin/python -m bench.rabbit_cluster

chaos-cluster: ## the fault harness on a private three-node cluster: nodes stopped and killed under ticket load
	@.venv/bin/python -m bench.chaos --rabbit-cluster --tickets 400 --rate 4 --replicas 2

bench-timer-replicas: ## timer lateness with 1 and 2 escalation processes on one wheel of 100,000 clocks
	@.venv/bin/python -m bench.timers --replicas 2
