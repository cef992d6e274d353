using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class WebhookHistoryIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_audit_records_webhook_subject_occurred_at",
                table: "audit_records",
                columns: new[] { "subject", "occurred_at" },
                filter: "action IN ('webhook.disabled', 'webhook.enabled')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_audit_records_webhook_subject_occurred_at",
                table: "audit_records");
        }
    }
}
