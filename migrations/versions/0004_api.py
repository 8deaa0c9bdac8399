"""api: client systems with hashed tokens, idempotency keys, external clue ids (12345, national platform)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:55:55.671937
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=True),
    sa.Column('webhook_url', sa.String(length=500), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_api_clients_department_id_departments')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'], name=op.f('fk_api_clients_jurisdiction_code_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_clients')),
    sa.UniqueConstraint('key_id', name=op.f('uq_api_clients_key_id')),
    sa.UniqueConstraint('name', name=op.f('uq_api_clients_name'))
    )
    op.create_table('external_refs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('created_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_clients.id'], name=op.f('fk_external_refs_client_id_api_clients')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_external_refs_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_refs')),
    sa.UniqueConstraint('complaint_id', name=op.f('uq_external_refs_complaint_id')),
    sa.UniqueConstraint('source', 'external_id', name=op.f('uq_external_refs_source'))
    )
    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('created_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_clients.id'], name=op.f('fk_idempotency_keys_client_id_api_clients')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_idempotency_keys_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('client_id', 'key', name=op.f('uq_idempotency_keys_client_id'))
    )


def downgrade() -> None:
    op.drop_table('idempotency_keys')
    op.drop_table('external_refs')
    op.drop_table('api_clients')
