"""The operations plane: keeping the loop whole when events, actions or processes were lost."""
