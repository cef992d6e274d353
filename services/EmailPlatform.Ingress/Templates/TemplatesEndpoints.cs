using System.Text.Json;
using EmailPlatform.Ingress.RateLimiting;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Paging;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Ingress.Templates;

/// <summary>
/// <c>/v1/templates</c>: create (version 1, a draft), list, read (<c>{id or alias}[@version]</c>), edit (a new draft),
/// publish the latest draft, delete, render a preview, and send a test email. Admin scope.
/// </summary>
public static class TemplatesEndpoints
{
    public static RouteGroupBuilder MapTemplates(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/templates")
            .WithTags("Templates")
            .RequireAuthorization(ApiKeyScopes.Admin)
            .AddRateLimit(routes)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapPost("/", CreateAsync).WithName("CreateTemplate").WithSummary("Creates a template; its first version is a draft.")
            .Accepts<TemplateRequest>("application/json")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/", ListAsync).WithName("ListTemplates").WithSummary("Templates newest first, without their content; in pages: limit (1–100, default 20), after or before the id of one.");
        group.MapGet("/{reference}", GetAsync).WithName("GetTemplate")
            .WithSummary("Reads a template by id or alias: its latest version, or the one pinned with '@3'.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPatch("/{reference}", UpdateAsync).WithName("UpdateTemplate")
            .WithSummary("Edits a template: the given fields, over its latest version, become a new draft version.")
            .Accepts<TemplateRequest>("application/json")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{reference}/publish", PublishAsync).WithName("PublishTemplate")
            .WithSummary("Publishes the latest version: sends without a pinned version use it from now on.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{reference}", DeleteAsync).WithName("DeleteTemplate").WithSummary("Deletes a template and all its versions.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{reference}/render", RenderAsync).WithName("RenderTemplate")
            .WithSummary("Renders a template (its latest version, or a pinned one) with variables, without sending.")
            .Accepts<RenderTemplateRequest>("application/json")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        group.MapPost("/{reference}/test", TestAsync).WithName("TestTemplate")
            .WithSummary("Sends one email rendered from a template (its latest version, draft included, or a pinned one) to one address.")
            .Accepts<TestTemplateRequest>("application/json")
            .Produces<EmailAcceptedResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        return group;
    }

    internal static async Task<Results<Created<TemplateResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpRequest httpRequest, IngressDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var body = await JsonBody.ReadAsync<TemplateRequest>(httpRequest, cancellationToken);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var request = body.Value!;
        var errors = TemplateRules.Check(request, creating: true);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var template = new TemplateRecord { Id = Guid.CreateVersion7(), Name = request.Name!.Trim(), Alias = request.Alias, CreatedAt = now };
        var version = NewVersion(template.Id, 1, request, previous: null, now);
        template.Versions.Add(version);
        db.Templates.Add(template);
        if (await SaveAsync(db, request.Alias, cancellationToken) is { } conflict)
        {
            return conflict;
        }

        return TypedResults.Created($"/v1/templates/{template.Id}",
            TemplateResponse.From(template, version, [TemplateVersionSummary.Of(version.Version, version.CreatedAt, version.PublishedAt)]));
    }

    /// <summary>Templates newest first, without their content, in pages (<see cref="NewestFirst"/>).</summary>
    internal static async Task<Results<Ok<TemplateListResponse>, ValidationProblem>> ListAsync(
        IngressDbContext db, CancellationToken cancellationToken, string? limit = null, string? after = null, string? before = null)
    {
        var errors = new Dictionary<string, string[]>();
        var page = await NewestFirst.ReadAsync(db.Templates.AsNoTracking(),
            t => new TemplateSummary("template", t.Id, t.Name, t.Alias,
                t.Versions.Where(v => v.PublishedAt != null).Max(v => (int?)v.Version), t.Versions.Max(v => v.Version), t.CreatedAt),
            limit, after, before, "a template", errors, cancellationToken);
        return page is { } found
            ? TypedResults.Ok(new TemplateListResponse("list", found.HasMore, found.Items))
            : ApiProblems.Validation(errors);
    }

    internal static async Task<Results<Ok<TemplateResponse>, ProblemHttpResult>> GetAsync(
        string reference, IngressDbContext db, CancellationToken cancellationToken)
    {
        var (template, version, versions) = await TemplateStore.FindAsync(db, reference, published: false, cancellationToken);
        return template is null || version is null
            ? TemplateProblems.NotFound(reference, published: false)
            : TypedResults.Ok(TemplateResponse.From(template, version, versions));
    }

    internal static async Task<Results<Ok<TemplateResponse>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string reference, HttpRequest httpRequest, IngressDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var body = await JsonBody.ReadAsync<TemplateRequest>(httpRequest, cancellationToken);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var request = body.Value!;
        var errors = TemplateRules.Check(request, creating: false);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        var template = await TemplateStore.FindTemplateAsync(db, reference, cancellationToken);
        if (template is null)
        {
            return TemplateProblems.NotFound(reference, published: false);
        }

        var latest = await TemplateStore.LatestVersionAsync(db, template.Id, tracked: false, cancellationToken);
        var merged = NewVersion(template.Id, latest.Version + 1, request, latest, clock.GetUtcNow().UtcDateTime);
        if (string.IsNullOrEmpty(merged.Html) && string.IsNullOrEmpty(merged.Text))
        {
            return ApiProblems.Validation(new Dictionary<string, string[]> { ["html"] = ["Either html or text is required."] });
        }

        template.Name = request.Name?.Trim() ?? template.Name;
        template.Alias = request.Alias ?? template.Alias;
        db.TemplateVersions.Add(merged);
        if (await SaveAsync(db, request.Alias, cancellationToken) is { } conflict)
        {
            return conflict;
        }

        return TypedResults.Ok(TemplateResponse.From(template, merged, await TemplateStore.SummariesAsync(db, template.Id, cancellationToken)));
    }

    internal static async Task<Results<Ok<TemplateResponse>, ProblemHttpResult>> PublishAsync(
        string reference, IngressDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var template = await TemplateStore.FindTemplateAsync(db, reference, cancellationToken);
        if (template is null)
        {
            return TemplateProblems.NotFound(reference, published: false);
        }

        var latest = await TemplateStore.LatestVersionAsync(db, template.Id, tracked: true, cancellationToken);
        latest.PublishedAt ??= clock.GetUtcNow().UtcDateTime;
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(TemplateResponse.From(template, latest, await TemplateStore.SummariesAsync(db, template.Id, cancellationToken)));
    }

    internal static async Task<Results<Ok<TemplateDeletedResponse>, ProblemHttpResult>> DeleteAsync(
        string reference, IngressDbContext db, CancellationToken cancellationToken)
    {
        var id = await TemplateStore.Matching(db.Templates, reference).Select(t => (Guid?)t.Id).SingleOrDefaultAsync(cancellationToken);
        if (id is not { } templateId)
        {
            return TemplateProblems.NotFound(reference, published: false);
        }

        // The versions by a statement rather than loaded (hundreds of edits of a large template would be read in full just
        // to be deleted), and first, whatever the store's foreign-key enforcement; on PostgreSQL a version that a
        // concurrent edit adds in between goes with the template (ON DELETE CASCADE), and on SQLite the first delete
        // takes the write lock, so no edit comes in between.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.TemplateVersions.Where(v => v.TemplateId == templateId).ExecuteDeleteAsync(cancellationToken);
        var deleted = await db.Templates.Where(t => t.Id == templateId).ExecuteDeleteAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return deleted == 0
            ? TemplateProblems.NotFound(reference, published: false)
            : TypedResults.Ok(new TemplateDeletedResponse("template", templateId, true));
    }

    internal static async Task<Results<Ok<RenderedTemplateResponse>, ProblemHttpResult>> RenderAsync(
        string reference, HttpRequest httpRequest, IngressDbContext db, TemplateRenderer renderer, CancellationToken cancellationToken)
    {
        var body = await JsonBody.ReadAsync<RenderTemplateRequest>(httpRequest, cancellationToken);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var version = await TemplateStore.FindVersionAsync(db, reference, published: false, cancellationToken);
        if (version is null)
        {
            return TemplateProblems.NotFound(reference, published: false);
        }

        var outcome = renderer.Render(version, body.Value!.Variables, TemplateParts.All, "variables");
        if (outcome.Rendered is not { } rendered)
        {
            return TemplateProblems.Unrenderable(outcome.Errors);
        }

        var text = rendered.Text ?? (string.IsNullOrEmpty(rendered.Html) ? null : HtmlText.From(rendered.Html));
        return TypedResults.Ok(new RenderedTemplateResponse("template", version.TemplateId, version.Version, rendered.Subject!, rendered.Html, text));
    }

    /// <summary>
    /// Renders the latest version (draft included) or a pinned one and accepts it as one email to <c>to</c>, from
    /// <c>from</c>, through the same path as <c>POST /v1/emails</c>: validation, sender domains, outbox, Idempotency-Key.
    /// </summary>
    internal static async Task<Results<Accepted<EmailAcceptedResponse>, ValidationProblem, ProblemHttpResult>> TestAsync(
        string reference, HttpContext http, EmailAcceptor acceptor, TemplateSending templates, CancellationToken cancellationToken)
    {
        var start = await acceptor.StartAsync<TestTemplateRequest>(http, cancellationToken);
        if (start.Answer is { } answer)
        {
            return answer;
        }

        var (caller, idempotency) = (start.Caller, start.Idempotency);

        var test = start.Body!;
        var send = new SendEmailRequest
        {
            From = test.From,
            To = test.To is null ? null : [test.To],
            Template = new TemplateReference { Id = reference, Variables = test.Variables },
        };
        var (request, unrendered) = await templates.ApplyAsync(send, cancellationToken, published: false);
        if (unrendered is not null)
        {
            return unrendered.Problem;
        }

        return await SendEndpoints.AcceptAsync(http, acceptor, caller, idempotency, request!, cancellationToken);
    }

    private static TemplateVersionRecord NewVersion(Guid templateId, int number, TemplateRequest request, TemplateVersionRecord? previous, DateTime now) => new()
    {
        TemplateId = templateId,
        Version = number,
        Subject = request.Subject ?? previous!.Subject,
        Html = request.Html ?? previous?.Html,
        Text = request.Text ?? previous?.Text,
        Variables = request.Variables is { } variables ? JsonSerializer.Serialize(variables, WireJson.Options) : previous?.Variables ?? "[]",
        CreatedAt = now,
    };

    /// <summary>Saves; a taken alias (or a concurrent edit that took the same version number) is a 409.</summary>
    private static async Task<ProblemHttpResult?> SaveAsync(IngressDbContext db, string? alias, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return null;
        }
        catch (DbUpdateException ex) when (StoreErrors.IsUniqueViolation(ex))
        {
            return ApiProblems.Problem(StatusCodes.Status409Conflict, "template_conflict", "Template conflict.", alias is null
                ? "The template was edited concurrently; read it again and retry."
                : $"The alias '{alias}' is taken by another template, or the template was edited concurrently.");
        }
    }
}
