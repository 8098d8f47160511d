"""Networks in the tf-slim style: images in, logits and end points out."""
