"""The operator console in the browser: FastAPI, Jinja2 templates, htmx and server-sent
events. It calls the agent's use cases (``daq.agent``), the certificate service
(``daq.certify``) and reads the journal; no rule of the lab lives here."""
