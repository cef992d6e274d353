using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class WebhookClaimIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_subscription_id_next_attempt_at",
                table: "webhook_deliveries",
                columns: new[] { "subscription_id", "next_attempt_at" },
                filter: "status = 'pending'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_webhook_deliveries_subscription_id_next_attempt_at",
                table: "webhook_deliveries");
        }
    }
}
