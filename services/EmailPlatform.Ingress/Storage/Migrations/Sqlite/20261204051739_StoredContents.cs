using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Ingress.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class StoredContents : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "email_contents",
                columns: table => new
                {
                    email_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    html = table.Column<string>(type: "TEXT", nullable: true),
                    text = table.Column<string>(type: "TEXT", nullable: true),
                    raw_message = table.Column<byte[]>(type: "BLOB", nullable: true),
                    size = table.Column<long>(type: "INTEGER", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    keep_until = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_email_contents", x => x.email_id);
                });

            migrationBuilder.CreateTable(
                name: "email_content_attachments",
                columns: table => new
                {
                    email_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    position = table.Column<int>(type: "INTEGER", nullable: false),
                    filename = table.Column<string>(type: "TEXT", nullable: false),
                    content_type = table.Column<string>(type: "TEXT", nullable: false),
                    content_id = table.Column<string>(type: "TEXT", nullable: true),
                    content = table.Column<byte[]>(type: "BLOB", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_email_content_attachments", x => new { x.email_id, x.position });
                    table.ForeignKey(
                        name: "fk_email_content_attachments_email_contents_email_id",
                        column: x => x.email_id,
                        principalTable: "email_contents",
                        principalColumn: "email_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_email_contents_keep_until",
                table: "email_contents",
                column: "keep_until");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "email_content_attachments");

            migrationBuilder.DropTable(
                name: "email_contents");
        }
    }
}
