using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class BulkCommands : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "bulk_commands",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    audit_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    message_type = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    payload = table.Column<string>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    parked_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    trace_parent = table.Column<string>(type: "TEXT", maxLength: 55, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_bulk_commands", x => x.id);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "bulk_commands");
        }
    }
}
