using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class WebhookClaimIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The dispatcher's claim probes each enabled subscription for its oldest due deliveries through this index.
            // Built concurrently, outside the migration's transaction, as the migration before it builds its index: a
            // plain CREATE INDEX blocks every write to webhook_deliveries while it reads the table, and the DROP removes
            // the invalid index a failed concurrent build leaves, when the migration is run again.
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_webhook_deliveries_subscription_id_next_attempt_at;", suppressTransaction: true);
            migrationBuilder.Sql(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_webhook_deliveries_subscription_id_next_attempt_at " +
                "ON webhook_deliveries (subscription_id, next_attempt_at) WHERE status = 'pending';",
                suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_webhook_deliveries_subscription_id_next_attempt_at;", suppressTransaction: true);
        }
    }
}
