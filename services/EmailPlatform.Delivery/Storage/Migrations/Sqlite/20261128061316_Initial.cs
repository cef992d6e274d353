using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Delivery.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "deliveries",
                columns: table => new
                {
                    email_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    recipient = table.Column<string>(type: "TEXT", maxLength: 320, nullable: false),
                    state = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    attempt = table.Column<int>(type: "INTEGER", nullable: false),
                    claim_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    due_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    first_attempt_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    expires_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    relay = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    reply_code = table.Column<int>(type: "INTEGER", nullable: true),
                    enhanced_code = table.Column<string>(type: "TEXT", maxLength: 16, nullable: true),
                    reply_text = table.Column<string>(type: "TEXT", nullable: true),
                    reason = table.Column<string>(type: "TEXT", nullable: true),
                    outcome_event_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    outcome_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    updated_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    version = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_deliveries", x => new { x.email_id, x.recipient });
                });

            migrationBuilder.CreateTable(
                name: "retry_messages",
                columns: table => new
                {
                    email_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    command = table.Column<string>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_retry_messages", x => x.email_id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_deliveries_due_at",
                table: "deliveries",
                column: "due_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "deliveries");

            migrationBuilder.DropTable(
                name: "retry_messages");
        }
    }
}
