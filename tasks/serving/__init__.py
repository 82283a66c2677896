"""The serving plane's pure cores: the contract compiled for requests, canary routing, shadow comparison, the online
log. The model server (deployments/serve/) does the I/O around them."""
