FROM python:3.11-slim

RUN useradd --create-home --uid 1000 daq
WORKDIR /src
COPY pyproject.toml README.md ./
COPY daq ./daq
COPY drivers ./drivers
COPY procedures ./procedures
COPY simulators ./simulators
COPY config ./config
RUN pip install --no-cache-dir . && rm -rf /src

USER daq
WORKDIR /home/daq
ENV PYTHONUNBUFFERED=1
CMD ["daq", "monitor", "--simulate"]
