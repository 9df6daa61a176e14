# vidgate: one image for every process of a deployment; the command picks the role:
#   vidgate serve --no-workers --host 0.0.0.0   an API process
#   vidgate worker --lanes local                a worker process
#   vidgate db upgrade                          once per release, before the others
# (Not built on the machine this project is developed on, which runs no container engine;
# the commands it runs are the ones the scale-out tests run as processes.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && useradd --create-home --uid 1000 vidgate && mkdir /data && chown vidgate /data
USER vidgate
ENV VIDGATE_DATA_DIR=/data VIDGATE_HOST=0.0.0.0
EXPOSE 8000
ENTRYPOINT ["vidgate"]
CMD ["serve"]
