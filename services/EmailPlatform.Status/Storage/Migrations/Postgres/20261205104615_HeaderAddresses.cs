using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class HeaderAddresses : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "header_addresses",
                columns: table => new
                {
                    email_id = table.Column<Guid>(type: "uuid", nullable: false),
                    address = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_header_addresses", x => new { x.email_id, x.address });
                });

            // The emails stored before: the addresses their headers name that are not among their recipients, read as the
            // recorder's MimeKit would read them for the usual shapes (a mailbox, "Name <a@b>", a group "Team: a@b, c@d;"),
            // before the index is built. A row too many only makes an erasure read an email it then leaves alone.
            migrationBuilder.Sql(@"
INSERT INTO header_addresses (email_id, address)
SELECT DISTINCT e.id, a.address
FROM emails AS e
CROSS JOIN LATERAL unnest(e.""to"" || e.cc || e.bcc || e.reply_to) AS entry(value)
CROSS JOIN LATERAL regexp_split_to_table(entry.value, '[,:;]') AS part(value)
CROSS JOIN LATERAL (SELECT lower(btrim(coalesce(substring(part.value FROM '<([^<>]*)>'), part.value))) AS address) AS a
WHERE a.address LIKE '%_@_%' AND length(a.address) <= 320
    AND NOT EXISTS (SELECT 1 FROM recipients AS r WHERE r.email_id = e.id AND r.address = a.address);");

            migrationBuilder.CreateIndex(
                name: "ix_header_addresses_address",
                table: "header_addresses",
                column: "address");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "header_addresses");
        }
    }
}
