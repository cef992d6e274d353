using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class RetentionFromDueTime : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_emails_with_content_accepted_at_id",
                table: "emails");

            migrationBuilder.CreateIndex(
                name: "ix_emails_scheduled_with_content_scheduled_at_id",
                table: "emails",
                columns: new[] { "scheduled_at", "id" },
                filter: "(html IS NOT NULL OR text IS NOT NULL OR cardinality(attachment_names) > 0) AND scheduled_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_emails_with_content_accepted_at_id",
                table: "emails",
                columns: new[] { "accepted_at", "id" },
                filter: "(html IS NOT NULL OR text IS NOT NULL OR cardinality(attachment_names) > 0) AND scheduled_at IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_emails_scheduled_with_content_scheduled_at_id",
                table: "emails");

            migrationBuilder.DropIndex(
                name: "ix_emails_with_content_accepted_at_id",
                table: "emails");

            migrationBuilder.CreateIndex(
                name: "ix_emails_with_content_accepted_at_id",
                table: "emails",
                columns: new[] { "accepted_at", "id" },
                filter: "html IS NOT NULL OR text IS NOT NULL OR cardinality(attachment_names) > 0");
        }
    }
}
