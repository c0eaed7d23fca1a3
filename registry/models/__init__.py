"""All models, imported here so Alembic and the app see the whole metadata."""
from registry.models.account import ROLES, Account, RegistrationRequest, account_divisions, account_water_users
from registry.models.audit import AuditEvent, IdempotencyKey
from registry.models.balance import BalanceTest
from registry.models.communication import CHANNELS, ApiToken, Communication, MessageTemplate
from registry.models.base import Base, utcnow
from registry.models.document import DOCUMENT_KINDS, Document
from registry.models.evaluation import (Certificate, CertificateCounter, DueItem, Evaluation, PendingEvaluation,
                                       RulesVersion)
from registry.models.job import JOB_STATES, Job
from registry.models.inspection import CHECK_RESULTS, ChecklistItem, Inspection, Rectification
from registry.models.meter import CALIBRATION_KINDS, METER_TYPES, Calibration, Meter
from registry.models.permit import AnnualPlan, Permit, permit_intake_points
from registry.models.plan_tax import PLAN_BREAKDOWNS, PlanProposal, PlanVersion, TaxStatement
from registry.models.reading import READING_CHANNELS, READING_SOURCES, READING_STATUSES, UNCOUNTED_STATUSES, Reading
from registry.models.telemetry import TelemetryPoint
from registry.models.use_warning import WARNING_KINDS, WARNING_OUTCOMES, WARNING_STATUSES, UseWarning
from registry.models.water_user import (SOURCES, WATER_USER_STATUSES, Division, IndustryPeriod, IntakePoint, NameBigram,
                                       WaterUser)
from registry.models import cached  # noqa: E402,F401  (keeps the list's copies on water_users up to date)

__all__ = [
    "ROLES", "Account", "account_divisions", "account_water_users", "AuditEvent", "IdempotencyKey",
    "BalanceTest", "Base", "CHANNELS", "ApiToken", "Communication", "MessageTemplate", "RulesVersion", "DueItem", "CertificateCounter", "RegistrationRequest", "utcnow", "DOCUMENT_KINDS", "Document", "Certificate", "Evaluation", "PendingEvaluation",
    "CHECK_RESULTS", "ChecklistItem", "JOB_STATES", "Job", "Inspection", "Rectification", "CALIBRATION_KINDS",
    "METER_TYPES", "Calibration", "Meter", "AnnualPlan", "Permit", "permit_intake_points",
    "READING_CHANNELS", "READING_SOURCES", "READING_STATUSES", "UNCOUNTED_STATUSES", "Reading", "TelemetryPoint",
    "SOURCES", "WATER_USER_STATUSES", "Division",
    "IndustryPeriod", "IntakePoint", "NameBigram", "WaterUser", "PLAN_BREAKDOWNS", "PlanProposal", "PlanVersion",
    "TaxStatement", "UseWarning", "WARNING_KINDS", "WARNING_OUTCOMES", "WARNING_STATUSES",
]
