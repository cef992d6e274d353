using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class WebhookDeletionAndStatusIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Null for every subscription so far: none of them is deleted. IF NOT EXISTS because the index below is built
            // outside a transaction: if that build fails, this column is already committed and the migration, run again,
            // must get past it.
            migrationBuilder.Sql("ALTER TABLE webhook_subscriptions ADD COLUMN IF NOT EXISTS deleted_at timestamp with time zone;");

            // Built concurrently, outside the migration's transaction: a plain CREATE INDEX blocks every write to
            // webhook_deliveries, and so all recording of events with subscribers, while it reads the table (90 days of
            // deliveries). A failed concurrent build leaves an invalid index behind, which IF NOT EXISTS alone would take
            // for the real one: the DROP before it removes it when the migration is run again.
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_webhook_deliveries_subscription_id_status_created_at_id;", suppressTransaction: true);
            migrationBuilder.Sql(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_webhook_deliveries_subscription_id_status_created_at_id ON webhook_deliveries (subscription_id, status, created_at, id);",
                suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_webhook_deliveries_subscription_id_status_created_at_id;", suppressTransaction: true);

            migrationBuilder.DropColumn(
                name: "deleted_at",
                table: "webhook_subscriptions");
        }
    }
}
