"""Every AWS operation botocore knows: names, models, search, schemas and CLI parsing."""
