"""Served endpoints: what the engine modules for OpenAI-compatible servers share (`http`: requests
with a deadline and one-line errors; `process`: a server started on 127.0.0.1 and always stopped;
`endpoint`: the validator's `Sampler` drawing over HTTP). The server engines themselves are ordinary
engine modules of `spec.engines` (`mlx_lm_server`, ...)."""
