"""The curated AWS services: one module each (its output models, its manager, its tools).

Adding a service is one new module here and one entry in MANAGERS.
"""

from services.route53 import Route53Manager
from services.s3 import S3Manager
from services.secretsmanager import SecretsManagerManager
from services.sts import StsManager

MANAGERS = (StsManager, SecretsManagerManager, Route53Manager, S3Manager)
