# Build helpers for deployment artefacts. The test and lint commands live in README.md / .ci/run.
PYTHON ?= .venv/bin/python
LAMBDA_ZIP ?= dist/ctrules-lambda.zip

.PHONY: lambda-zip lambda-zip-pip docker docker-lambda

# A deployable Lambda zip from this environment's installed dependencies (build on Linux with
# the Lambda runtime's Python version); handler: ctrules.aws.handler.handler. boto3/botocore are
# left to the Lambda runtime (about 3 MB instead of 21; scripts/build_lambda_zip.py --with-boto3
# bundles them). The Terraform module can build the same zip itself (build_lambda_package).
lambda-zip:
	$(PYTHON) scripts/build_lambda_zip.py -o $(LAMBDA_ZIP)

# The same, with manylinux wheels fetched by pip for the Lambda platform (works from macOS).
lambda-zip-pip:
	$(PYTHON) scripts/build_lambda_zip.py -o $(LAMBDA_ZIP) --pip

docker:
	docker build -t ctrules-worker -f Dockerfile .

docker-lambda:
	docker build -t ctrules-lambda -f Dockerfile.lambda .

# The benchmark suite (bench/README.md): EVENTS=10k … 10M; prints a table, writes JSON to bench/out/.
EVENTS ?= 200k
.PHONY: bench
bench:
	$(PYTHON) -m bench --events $(EVENTS)
