FROM python:3.11-slim

# WeasyPrint renders PDF certificates with Pango; DejaVu has the Vietnamese glyphs
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# the service user, in dialout for serial instruments; its data folder holds the journal
RUN useradd --create-home --uid 1000 --groups dialout daq \
    && mkdir -p /home/daq/data \
    && chown daq:daq /home/daq/data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY daq ./daq
COPY drivers ./drivers
COPY procedures ./procedures
COPY simulators ./simulators
COPY config ./config
RUN pip install --no-cache-dir '.[fast]' && rm -rf /src

USER daq
WORKDIR /home/daq
# readable logs without a terminal: unbuffered, wide lines; matplotlib's cache in the home
ENV PYTHONUNBUFFERED=1 COLUMNS=120 MPLCONFIGDIR=/home/daq/.matplotlib
VOLUME /home/daq/data
# healthy while the agent runs and its sinks are up ($DAQ_LAB names the lab file, if any)
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 \
    CMD ["daq", "status", "--check"]
# the embedded demo lab (simulated instruments), its journal in /home/daq/data
CMD ["daq", "agent", "--simulate"]
