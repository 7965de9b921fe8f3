"""Modal-style deployment of the GPU worker: scale to zero, one container per GPU.

`autoscale` runs every minute, reads the SQS depth and spawns worker containers up to the number the queue
needs. Each container owns one GPU, runs the image's command (WORKERS_PER_GPU processes: see docs/deploy.md,
"How many workers per GPU") and stops itself after IDLE_MINUTES with an empty queue, so nothing runs while
there is no work. Illustrative: not exercised by the test suite; adapt names, sizes and secrets.

    modal deploy deploy/modal/asr_worker.py
"""

import os
import signal
import subprocess
import time

import modal

# The image built from gpu-worker/Dockerfile and pushed to your registry; Modal adds its Python runtime.
image = modal.Image.from_registry("registry.example.com/qwen3-asr-worker:0.1.0", add_python="3.12").pip_install(
    "boto3==1.40.0"
)
app = modal.App("qwen3-asr-worker", image=image)
# DATABASE_URL, SQS_QUEUE_URL, AWS_REGION, AWS credentials, BLOB_STORE=s3, S3_BUCKET, S3_ENDPOINT, S3_REGION.
secrets = [modal.Secret.from_name("asr-worker")]
# Converted weights under /models/qwen3-asr (the image's MODEL_DIR).
models = modal.Volume.from_name("qwen3-asr-models")

MAX_GPUS = 8
WORKERS_PER_GPU = 2
JOBS_PER_WORKER = 16  # WORKER_CONCURRENCY: messages one worker holds
IDLE_MINUTES = 10  # a cold start costs a model load; do not flap
WORKER_COMMAND = ["/usr/bin/tini", "--", "node", "--import", "tsx", "gpu-worker/main.ts"]  # ENTRYPOINT + CMD


def queue_depth() -> int:
    """Visible + in-flight messages, the number KEDA scales on in deploy/k8s."""
    import boto3

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=os.environ["SQS_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@app.function(gpu="H100", secrets=secrets, volumes={"/models": models}, max_containers=MAX_GPUS, timeout=24 * 3600)
def worker() -> None:
    procs = [subprocess.Popen(WORKER_COMMAND, cwd="/app") for _ in range(WORKERS_PER_GPU)]
    idle_since = None
    while all(p.poll() is None for p in procs):
        time.sleep(30)
        if queue_depth() > 0:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > IDLE_MINUTES * 60:
            break
    # SIGTERM: each worker finishes its batch and hands unfinished jobs back within 30 s.
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


@app.function(secrets=secrets, schedule=modal.Period(minutes=1))
def autoscale() -> None:
    depth = queue_depth()
    wanted = min(MAX_GPUS, -(-depth // (JOBS_PER_WORKER * WORKERS_PER_GPU)))  # ceil
    running = worker.get_current_stats().num_total_runners
    for _ in range(max(0, wanted - running)):
        worker.spawn()
