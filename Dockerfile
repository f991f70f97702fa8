# Container worker: `ctrules consume sqs` (default) or `ctrules consume kinesis`.
#   docker build -t ctrules-worker .
#   docker run -e CTRULES_SQS_QUEUE_URL=https://sqs.../ctrules-intake -e AWS_REGION=eu-west-1 ctrules-worker
#   docker run ctrules-worker kinesis --stream cloudtrail --checkpoint-table ctrules-checkpoints
# Configuration is environment only (docs/configuration.md). SIGTERM (docker stop, ECS, k8s)
# finishes in-flight messages and exits 0: give the task a stop timeout above the time one
# log file takes (ECS stopTimeout / k8s terminationGracePeriodSeconds, e.g. 120 s).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ctrules ctrules
COPY grammar grammar
COPY rules rules
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home ctrules
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels ctrules && rm -rf /wheels
USER 10001
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CTRULES_LOG_LEVEL=INFO
STOPSIGNAL SIGTERM
ENTRYPOINT ["ctrules", "consume"]
CMD ["sqs"]
