"""Task YAMLs of lm-eval-compression; pass this folder to `lm_eval --include_path`."""
