package console

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"

	"github.com/waypost/waypost/internal/config"
)

// The site map is an SVG drawn here (no outside service): each site a box
// with its servers and, under each server, the send connectors it is a
// source server of (address spaces, and a mark for scoped ones); hub
// sites have a double border; site links are lines labelled with their
// cost; a site's box links to its address types.

const (
	boxW     = 300
	lineH    = 18
	boxPad   = 12
	mapPadXY = 40
)

type siteBox struct {
	site  *config.Site
	lines []svgLine
	x, y  float64 // centre
	h     float64
}

type svgLine struct {
	text  string
	class string
}

// drawTopology returns the SVG of org's site map.
func drawTopology(org *config.Org) string {
	boxes := make([]*siteBox, len(org.Sites))
	maxH := 0.0
	for i, st := range org.Sites {
		b := &siteBox{site: st}
		for _, srv := range org.ServersInSite(st.Name) {
			b.lines = append(b.lines, svgLine{"server " + srv.Name, "server"})
			for _, sc := range org.SendConnectors {
				if sc.SourceServers == nil || !hasFold(sc.SourceServers, srv.Name) {
					continue
				}
				var spaces []string
				for _, sp := range sc.AddressSpaces {
					spaces = append(spaces, sp.String())
				}
				text := "↳ " + sc.Name + ": " + strings.Join(spaces, ", ")
				cls := "conn"
				if sc.Scoped {
					text += " [scoped]"
					cls = "conn scoped"
				}
				if !sc.Enabled {
					text += " (disabled)"
				}
				b.lines = append(b.lines, svgLine{text, cls})
			}
		}
		if len(b.lines) == 0 {
			b.lines = append(b.lines, svgLine{"no servers", "server"})
		}
		b.h = float64(2*boxPad + lineH*(len(b.lines)+1))
		maxH = math.Max(maxH, b.h)
		boxes[i] = b
	}
	// Sites on a circle (a row for two), wide enough that boxes do not meet.
	n := len(boxes)
	var w, h float64
	switch {
	case n <= 1:
		w, h = boxW+2*mapPadXY, maxH+2*mapPadXY
		if n == 1 {
			boxes[0].x, boxes[0].y = w/2, h/2
		}
	case n == 2:
		w, h = 2*boxW+200+2*mapPadXY, maxH+2*mapPadXY
		boxes[0].x, boxes[0].y = mapPadXY+boxW/2, h/2
		boxes[1].x, boxes[1].y = w-mapPadXY-boxW/2, h/2
	default:
		r := math.Max(float64(boxW)*0.75*float64(n)/math.Pi, maxH)
		w, h = 2*r+boxW+2*mapPadXY, 2*r+maxH+2*mapPadXY
		for i, b := range boxes {
			a := 2*math.Pi*float64(i)/float64(n) - math.Pi/2
			b.x, b.y = w/2+r*math.Cos(a), h/2+r*math.Sin(a)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-labelledby="map-title" class="topology">`, w, h, w, h)
	fmt.Fprintf(&sb, `<title id="map-title">Sites, site links and send connectors of %s</title>`, esc(org.Name))
	// Presentation attributes, not a <style> element: the console's
	// Content-Security-Policy allows no inline styles, and the SVG must
	// draw the same when opened on its own.
	byName := map[string]*siteBox{}
	for _, b := range boxes {
		byName[strings.ToLower(b.site.Name)] = b
	}
	for _, l := range org.SiteLinks {
		a, b := byName[strings.ToLower(l.Sites[0])], byName[strings.ToLower(l.Sites[1])]
		if a == nil || b == nil {
			continue
		}
		fmt.Fprintf(&sb, `<g class="sitelink"><title>site link %s: %s - %s, cost %d</title><line class="link" stroke="#5a6b7d" stroke-width="2" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`,
			esc(l.Name), esc(l.Sites[0]), esc(l.Sites[1]), l.Cost, a.x, a.y, b.x, b.y)
		mx, my := (a.x+b.x)/2, (a.y+b.y)/2
		label := fmt.Sprintf("%s · cost %d", l.Name, l.Cost)
		lw := float64(len([]rune(label)))*7.5 + 12
		fmt.Fprintf(&sb, `<rect class="costbg" fill="#fff" stroke="#5a6b7d" x="%.0f" y="%.0f" width="%.0f" height="20" rx="4"/><text class="cost" font-family="sans-serif" font-size="13" font-weight="bold" fill="#1d2b3a" x="%.0f" y="%.0f" text-anchor="middle">%s</text></g>`,
			mx-lw/2, my-14, lw, mx, my+1, esc(label))
	}
	for _, b := range boxes {
		x, y := b.x-boxW/2, b.y-b.h/2
		cls, stroke, width := "site", "#2f5d8a", 2
		name := b.site.Name
		if b.site.HubSite {
			cls, stroke, width = "site hub", "#8a4b2f", 5
			name += " (hub site)"
		}
		href := "/console/address-types?site=" + url.QueryEscape(b.site.Name)
		fmt.Fprintf(&sb, `<a href="%s" class="sitebox" data-site="%s"><title>site %s: open its address types</title>`, esc(href), esc(b.site.Name), esc(b.site.Name))
		fmt.Fprintf(&sb, `<rect class="%s" fill="#f4f7fb" stroke="%s" stroke-width="%d" x="%.0f" y="%.0f" width="%d" height="%.0f" rx="8"/>`, cls, stroke, width, x, y, boxW, b.h)
		fmt.Fprintf(&sb, `<text class="name" font-family="sans-serif" font-size="15" font-weight="bold" fill="#12263a" x="%.0f" y="%.0f">%s</text>`, x+boxPad, y+boxPad+lineH-4, esc(name))
		for i, l := range b.lines {
			fmt.Fprintf(&sb, `<text class="%s" %s x="%.0f" y="%.0f">%s</text>`, l.class, lineStyle[l.class], x+boxPad, y+boxPad+float64(lineH*(i+2))-4, esc(clip(l.text, 40)))
		}
		sb.WriteString(`</a>`)
	}
	sb.WriteString(`</svg>`)
	return sb.String()
}

// lineStyle draws the lines of a site's box by their class.
var lineStyle = map[string]string{
	"server":      `font-family="sans-serif" font-size="13" fill="#12263a"`,
	"conn":        `font-family="monospace" font-size="12" fill="#2b5d2b"`,
	"conn scoped": `font-family="monospace" font-size="12" font-weight="bold" fill="#8a2f5d"`,
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// clip shortens a line to n characters so it stays inside its box.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func hasFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (s *Server) topology(w http.ResponseWriter, r *http.Request, u *user) {
	org := u.eng.Org()
	s.render(w, r, u, http.StatusOK, "topology", "Topology", struct {
		SVG   template.HTML
		Org   *config.Org
		Links []*config.SiteLink
	}{template.HTML(drawTopology(org)), org, org.SiteLinks})
}

func (s *Server) topologySVG(w http.ResponseWriter, r *http.Request, u *user) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(drawTopology(u.eng.Org())))
}
