"""Worker-side wiring: the bootstep that runs Stalwart's services in every worker."""
