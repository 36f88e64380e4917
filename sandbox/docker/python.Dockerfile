# Python runner for machines that can pull from a registry (image_mode = "pull").
FROM python:3.11-slim
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt numpy pandas && rm /tmp/requirements.txt
COPY runner/ /opt/omniscope/
RUN mkdir -p /plugin /job /out /data && chown 65534:65534 /data \
 && python3 -m compileall -q /opt/omniscope
ENV HOME=/tmp TMPDIR=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 LANG=C.UTF-8
USER 65534:65534
WORKDIR /tmp
CMD ["python3", "/opt/omniscope/omniscope_runner.py"]
