"""Outputs that drain the journal: InfluxDB (line protocol) and MQTT (JSON on a topic tree)."""
