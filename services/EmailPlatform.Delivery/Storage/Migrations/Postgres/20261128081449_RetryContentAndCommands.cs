using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Delivery.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class RetryContentAndCommands : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "keep_until",
                table: "retry_messages",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "processed_commands",
                columns: table => new
                {
                    command_id = table.Column<Guid>(type: "uuid", nullable: false),
                    email_id = table.Column<Guid>(type: "uuid", nullable: false),
                    processed_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_processed_commands", x => x.command_id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_retry_messages_keep_until",
                table: "retry_messages",
                column: "keep_until");

            migrationBuilder.CreateIndex(
                name: "ix_processed_commands_processed_at",
                table: "processed_commands",
                column: "processed_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "processed_commands");

            migrationBuilder.DropIndex(
                name: "ix_retry_messages_keep_until",
                table: "retry_messages");

            migrationBuilder.DropColumn(
                name: "keep_until",
                table: "retry_messages");
        }
    }
}
