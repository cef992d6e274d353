using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class RetentionIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_created_at",
                table: "webhook_deliveries",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "ix_emails_with_content_accepted_at_id",
                table: "emails",
                columns: new[] { "accepted_at", "id" },
                filter: "html IS NOT NULL OR text IS NOT NULL OR cardinality(attachment_names) > 0");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_webhook_deliveries_created_at",
                table: "webhook_deliveries");

            migrationBuilder.DropIndex(
                name: "ix_emails_with_content_accepted_at_id",
                table: "emails");
        }
    }
}
