using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Sqlite
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
                    email_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    address = table.Column<string>(type: "TEXT", maxLength: 320, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_header_addresses", x => new { x.email_id, x.address });
                });

            // The emails stored before: the addresses their headers name that are not among their recipients, read as the
            // recorder's MimeKit would read them for the usual shapes (a mailbox, "Name <a@b>", a group "Team: a@b, c@d;"),
            // before the index is built. A row too many only makes an erasure read an email it then leaves alone.
            migrationBuilder.Sql(@"
WITH RECURSIVE
    entries(email_id, entry) AS (
        SELECT e.id, j.value FROM emails AS e, json_each(e.""to"") AS j
        UNION ALL SELECT e.id, j.value FROM emails AS e, json_each(e.cc) AS j
        UNION ALL SELECT e.id, j.value FROM emails AS e, json_each(e.bcc) AS j
        UNION ALL SELECT e.id, j.value FROM emails AS e, json_each(e.reply_to) AS j),
    parts(email_id, part, rest) AS (
        SELECT email_id, NULL, replace(replace(entry, ':', ','), ';', ',') || ',' FROM entries
        UNION ALL
        SELECT email_id, substr(rest, 1, instr(rest, ',') - 1), substr(rest, instr(rest, ',') + 1) FROM parts WHERE rest <> ''),
    addresses(email_id, address) AS (
        SELECT email_id, lower(trim(CASE WHEN instr(part, '<') > 0 AND instr(part, '>') > instr(part, '<')
            THEN substr(part, instr(part, '<') + 1, instr(part, '>') - instr(part, '<') - 1) ELSE part END))
        FROM parts WHERE part IS NOT NULL)
INSERT INTO header_addresses (email_id, address)
SELECT DISTINCT email_id, address FROM addresses AS a
WHERE address LIKE '%_@_%' AND length(address) <= 320
    AND NOT EXISTS (SELECT 1 FROM recipients AS r WHERE r.email_id = a.email_id AND r.address = a.address);");

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
