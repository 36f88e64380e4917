# R runner for machines that can pull (image_mode = "pull"): R plus Python with rpy2, so the
# same runner script serves R plugins.
FROM r-base
COPY requirements.txt /tmp/requirements.txt
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip python3-numpy python3-pandas \
      python3-rpy2 r-cran-jsonlite \
 && pip3 install --no-cache-dir --break-system-packages -r /tmp/requirements.txt \
 && rm -rf /var/lib/apt/lists/* /tmp/requirements.txt
COPY runner/ /opt/omniscope/
RUN mkdir -p /plugin /job /out /data && chown 65534:65534 /data \
 && python3 -c "import pyarrow, pandas, rpy2.robjects"
ENV HOME=/tmp TMPDIR=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 LANG=C.UTF-8
USER 65534:65534
WORKDIR /tmp
CMD ["python3", "/opt/omniscope/omniscope_runner.py"]
