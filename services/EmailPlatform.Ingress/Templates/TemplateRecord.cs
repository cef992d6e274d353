using System.Text.Json;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Paging;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Ingress.Templates;

/// <summary>A stored template: its identity. Its content lives in its versions.</summary>
public sealed class TemplateRecord : IListedRecord
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    /// <summary>A stable, human-readable id (<c>welcome-email</c>), unique when set.</summary>
    public string? Alias { get; set; }

    public DateTime CreatedAt { get; set; }

    public List<TemplateVersionRecord> Versions { get; set; } = [];
}

/// <summary>
/// One immutable version of a template. Edits create a new draft; publishing stamps <see cref="PublishedAt"/>, and the
/// highest published version is the one sends use.
/// </summary>
public sealed class TemplateVersionRecord
{
    public Guid TemplateId { get; set; }

    public int Version { get; set; }

    public required string Subject { get; set; }

    public string? Html { get; set; }

    public string? Text { get; set; }

    /// <summary>The declared variables, as JSON (<see cref="TemplateVariable"/>[]).</summary>
    public string Variables { get; set; } = "[]";

    public DateTime CreatedAt { get; set; }

    public DateTime? PublishedAt { get; set; }

    public IReadOnlyList<TemplateVariable> DeclaredVariables() =>
        JsonSerializer.Deserialize<List<TemplateVariable>>(Variables, WireJson.Options) ?? [];
}

/// <summary>A declared variable: <c>type</c> is <c>string</c>, <c>number</c> or <c>boolean</c>.</summary>
public sealed record TemplateVariable(string Name, string Type, bool Required, JsonElement? Default);

internal static class TemplateModel
{
    public static void Configure(ModelBuilder modelBuilder)
    {
        var templates = modelBuilder.Entity<TemplateRecord>();
        templates.Property(t => t.Id).ValueGeneratedNever();
        templates.Property(t => t.Name).HasMaxLength(TemplateRules.MaxNameLength);
        templates.Property(t => t.Alias).HasMaxLength(TemplateRules.MaxAliasLength);
        templates.HasIndex(t => t.Alias).IsUnique();
        templates.HasMany(t => t.Versions).WithOne().HasForeignKey(v => v.TemplateId).OnDelete(DeleteBehavior.Cascade);

        var versions = modelBuilder.Entity<TemplateVersionRecord>();
        versions.HasKey(v => new { v.TemplateId, v.Version });
        versions.Property(v => v.Version).ValueGeneratedNever();
    }
}
